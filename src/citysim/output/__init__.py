"""Results folders: file layout, atomic writing, manifest, charts (DataFrames in, Figures out), reports."""
