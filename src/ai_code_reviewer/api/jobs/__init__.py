"""Durable review jobs: the queue, the pipeline of stages and the worker."""
