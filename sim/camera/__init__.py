"""Simulated face camera: scripted frame sequences (face, blink, turn, no face, a printed
photo held still) rendered from real photographs, played through an image folder."""
