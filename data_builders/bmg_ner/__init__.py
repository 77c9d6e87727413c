"""BMG-NER corpus builder (paper Appendix B)."""
