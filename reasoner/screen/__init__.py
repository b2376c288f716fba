"""Cohort screening: reading a folder / JSONL / stdin lazily, judging batches on a process pool or
Dask, streaming rows, errors and the funnel, checkpoints for --resume. A driver over pipeline.py;
holds no criterion logic."""
