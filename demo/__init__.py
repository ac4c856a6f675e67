"""Demo newsroom: a local fake news site whose stories change on demand."""
