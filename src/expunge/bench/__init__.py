"""Benchmark drivers: clients of the areas that measure them, never imported by them.

Owns: the drivers behind ``expunge bench …`` (language models here; the DSR, crash, retrieval and classifier
drivers move here from their areas) and the shape of their result files (JSON rows plus a markdown table).
Must not touch: any area's private modules. A driver imports the areas' public names like any user would;
no area imports ``expunge.bench``.
"""
