"""LSTM Explainer: watch a real, trained recurrent network read your sentence."""

__version__ = "0.1.0"
