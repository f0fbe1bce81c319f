"""Telling people about reviews: email rendering and sending."""
