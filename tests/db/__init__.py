"""Tests of the proxy with its PostgreSQL database."""
