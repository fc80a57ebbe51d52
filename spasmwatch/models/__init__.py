"""spasmwatch.models"""
