# text-spotting-0003: the reference (GPU-class) text spotter in the shape of OpenVINO's text-spotting-0003:
# ResNet-50 (stage 1 frozen) + FPN(64), 1280x768 input. _base_/text_spotter.py is this model; nothing else differs.
# Input size, alphabet, thresholds and the schedule (SGD lr 0.01, steps at 14 and 22, 25 epochs) are in template.yaml.
_base_ = ['../_base_/text_spotter.py']
