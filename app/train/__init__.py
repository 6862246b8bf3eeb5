"""Training: recipes, data and the optimiser for the model zoo, on the same cells as app.nn."""
