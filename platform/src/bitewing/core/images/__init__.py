"""Studies, series and images: metadata and object-store references, never pixel bytes."""
