from setuptools import find_packages, setup

setup(
    name="text_spotting",
    version="0.1.0",
    description="Scene-text spotting (detect + read words) on mmdet 3.x with OpenVINO export",
    packages=find_packages(include=["text_spotting", "text_spotting.*"]),
    python_requires=">=3.10",
    # init_venv.sh installs the pinned stack (requirements.txt, constraints.txt); torch and mmcv need special steps.
    install_requires=[],
    # rapidocr 3.10 requires opencv-python-headless, which would overwrite the cv2 of our opencv-python (and drop
    # cv2.imshow); 3.9.x requires opencv-python and ships the same PP-OCRv6 models in the wheel.
    extras_require={"peers": ["rapidocr==3.10.0", "onnxruntime", "pytesseract"]},
)
