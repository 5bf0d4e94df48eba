"""Where cells run: the backend protocol and the local, Ray and Slurm backends (README.md)."""
