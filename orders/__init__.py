"""Hunar orders package."""
