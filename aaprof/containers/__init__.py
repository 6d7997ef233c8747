"""Attributing processes and profiles to Kubernetes containers."""
