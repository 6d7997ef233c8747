"""The node side of aaprof: prerequisites (`aaprof node check`) and the profile loader."""
