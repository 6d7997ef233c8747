"""Tests of the Kubernetes bundle."""
