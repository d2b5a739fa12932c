"""aiodjango's benchmarks: the full app side by side with what users would pick instead."""
