"""Write validation across the 18 paths: capture both sides, scope each write, compare, classify races."""
