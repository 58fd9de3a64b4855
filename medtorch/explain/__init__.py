"""Explanations of a trained model: Captum attributions, attention maps, sanity checks, plots.

Heavy libraries (Captum, matplotlib, SciPy) are imported inside the functions that use them.
"""
