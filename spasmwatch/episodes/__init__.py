"""spasmwatch.episodes"""
