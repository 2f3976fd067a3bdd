"""Input readers: Beam-free generators that turn one input file into documents and rejects."""
