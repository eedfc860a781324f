"""Write validation across the 18 paths: read both sides, scope each write, compare, classify races."""
