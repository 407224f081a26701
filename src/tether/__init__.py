"""tether: Git-native reproducibility for machine learning."""

__version__ = "0.1.0"
