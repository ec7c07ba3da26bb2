"""Measuring instruments that outlive the model they were made for: v1's word count and vocabulary, frozen."""
