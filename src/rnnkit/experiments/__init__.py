"""End-to-end experiments behind the CLI: data, model presets, run folders."""
