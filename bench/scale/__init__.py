"""The scale benchmark's parts: processes and their CPU and memory, the simulator's and the daemon's
HTTP surfaces, generated policies, the measurements, and the report (see ``bench/scale_bench.py``)."""
