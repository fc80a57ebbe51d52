"""spasmwatch.store"""
