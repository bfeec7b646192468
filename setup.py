from setuptools import find_packages, setup

setup(
    name="text_spotting",
    version="0.1.0",
    description="Scene-text spotting (detect + read words) on mmdet 3.x with OpenVINO export",
    packages=find_packages(include=["text_spotting", "text_spotting.*"]),
    python_requires=">=3.10",
    # init_venv.sh installs the pinned stack (requirements.txt, constraints.txt); torch and mmcv need special steps.
    install_requires=[],
    extras_require={"peers": ["rapidocr>=3,<4", "onnxruntime", "pytesseract"]},
)
