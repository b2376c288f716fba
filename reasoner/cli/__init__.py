"""`eligo`: thin click commands over the pipeline, screening and authoring. Parses options, calls
the steps, renders, sets the exit code; holds no logic of its own."""
