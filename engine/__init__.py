"""Everything torch: data, models, training, sampling and the run store.

Importing this package does not import torch; the modules that need it import it themselves,
so the TUI can use the config schema and the run store without paying for torch.
"""
