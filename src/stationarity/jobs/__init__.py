"""What the workflow's rule shims call: one function per rule, joining settings, files and parts.

``prepare`` (data), ``train``, ``estimate`` (estimate and sample_size), ``collect``, ``figure``,
``synthetic`` and ``publish`` (W&B sync and report). Nothing in the package imports this part.
"""
