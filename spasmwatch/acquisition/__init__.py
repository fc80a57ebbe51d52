"""spasmwatch.acquisition"""
