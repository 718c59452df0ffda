"""3D color lookup tables: the lattice convention, interpolation, LUT objects (luts) and LUT
files of every format (formats).

Convention used everywhere in lutcli: a LUT is a float tensor of shape (..., 3, D, D, D) indexed
``lut[..., c, b, g, r]``: output channel ``c`` for the input lattice point ``(r, g, b)``. Lattice
index ``i`` stands for the input value ``i / (D - 1)``, so the domain is the unit RGB cube. In C
order over ``(b, g, r)`` the red index changes fastest, exactly the line order of a .cube file.
"""
