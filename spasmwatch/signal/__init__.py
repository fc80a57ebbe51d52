"""spasmwatch.signal"""
