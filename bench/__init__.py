"""Framescope's benchmark suite: speed, scale and quality, side by side with plain
sentence-transformers and BERTopic, in one run. See BENCHMARKS.md and `python -m bench -h`."""
