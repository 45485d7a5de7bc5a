"""Pressroom: a self-hosted PDF processing service."""
