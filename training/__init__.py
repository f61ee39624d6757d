"""Training and calibration: the scripts that write the shipped files in qa/models/.

Run from the repository root as modules, for example `python -m training.train_reader`."""
