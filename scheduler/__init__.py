"""Hunar scheduler package."""
