"""The neural models at inference: the sentence embedder and the extractive reader, exported
to ONNX graphs and run by ONNX Runtime or OpenVINO (torch only trains and exports them). Their
shipped weights live here too."""
