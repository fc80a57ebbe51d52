"""spasmwatch.coach"""
