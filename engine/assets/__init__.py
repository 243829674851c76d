"""Assets: what a scene looks like, between the scene graph and the renderer.

Modules (see docs/meshes.md):
    meshes      procedural triangle meshes for objects and room surfaces (recipes in scenes/meshes.yaml)
    textures    procedural, seamlessly tiling surface textures
    appearance  sampling of scene.materials and scene.lights (defaults in scenes/appearance.yaml)
    types       RenderMesh, the mesh the renderer backends and the GLB export draw
"""
