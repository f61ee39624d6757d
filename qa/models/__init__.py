"""The neural models at inference: the sentence embedder and the extractive reader, with the
runtimes (ONNX Runtime, OpenVINO, torch) that run them. Their shipped weights live here too."""
