"""Reading and writing photos, and finding them in folders."""
