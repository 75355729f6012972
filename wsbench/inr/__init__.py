"""Shared INR building blocks: SIREN layouts, batched functional forward passes."""
