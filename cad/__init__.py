"""Hunar cad package."""
