"""spasmwatch.simulation"""
