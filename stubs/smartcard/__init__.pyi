# pyscard 2.3: only what tag_tools and its tests use (see stubs/README.md).
