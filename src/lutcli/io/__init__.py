"""Photos on disk and in memory: reading and writing them (images), their EXIF, ICC profiles
and containers (metadata), decoded pixels (pixels), folders, and fsspec URLs (remote). OpenCV
is used here and nowhere else in lutcli."""
