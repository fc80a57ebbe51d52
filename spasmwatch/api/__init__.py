"""spasmwatch.api"""
