"""Benchmark of hullcheck against the weekly ``docker-compose pull`` plus Trivy loop."""
