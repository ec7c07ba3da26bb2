"""Measuring a model: evaluate, teacher-forced scoring, reply metrics, and v1's frozen word count and vocabulary."""
